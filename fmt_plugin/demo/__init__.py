"""The demo practice of `fmt-plugin demo`: a synthetic patientèle, its history, replayed over HL7.

Everything here is drawn from a seed, never from real data: `population` (the patients),
`history` (their lab results, vaccinations and EHR acts over three years), `hl7_messages`
(those records as HL7 v2.5 messages), `sender` (an MLLP client), `run` (the demo itself) and
`command` (its sub-command). The benchmarks in `bench/` reuse the generators.
"""
