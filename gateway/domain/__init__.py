"""The organization core: entities, the membership-mode policy and its errors. Pure Python, no frameworks."""
