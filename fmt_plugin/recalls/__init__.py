"""Recall reminders: who needs which recall (planner), the outbox that sends each once, the jobs."""
