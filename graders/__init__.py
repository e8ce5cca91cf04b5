"""Auto-graders for the course exercises (pure functions of the student's function and a seed)."""
