"""BabyAI (BALROG's BabyAI-MixedTrainLocal-v0 task families) on upstream minigrid."""
