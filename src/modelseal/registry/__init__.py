"""Sign, scan and check whole registries: many models as independent tasks on a local pool or a Ray cluster,
with the signer on the driver and results streamed per model."""
