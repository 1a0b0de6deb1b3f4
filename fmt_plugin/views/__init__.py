"""What the practice reads: reports and the patient's "Suivi prévention", in French."""
