"""What is posted when: posts, threads, media and recurring bots."""
