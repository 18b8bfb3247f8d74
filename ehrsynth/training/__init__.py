"""Trainers shared by the tabular medGAN and the imaging GANs: autoencoder pretraining and the adversarial
loop, both with optional DP-SGD (Opacus, ghost clipping, Poisson sampling), progress and checkpoints."""
