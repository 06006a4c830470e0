"""The networks and their maths: motion VAE, key encoder, masked transformer, diffusion head, noise schedule, text encoders, checkpoints."""
