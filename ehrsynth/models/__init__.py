"""Neural network modules only (no training logic): medGAN's autoencoder, generator, discriminator."""
