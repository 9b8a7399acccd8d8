"""Webhook deliveries before they are queued, one module per concern: :mod:`.verification` (who may
deliver, and for which campaign), :mod:`.events` (the hub's normalized events) and one normalizer per
provider (:mod:`.growsurf`, :mod:`.sparkloop`, :mod:`.viral_loops`). ``hub.flows.webhooks`` is the ingress
that runs them and the one place to import them from."""
