"""Fixed inputs of notebook 08 (vanishing and exploding gradients), for the notebook's own cells."""

#: The multiple-choice questions of the notebook's last exercise (texts: graders.public.questions).
QUESTIONS = ("clip_vs_decay", "zero_init")
