"""The LLM tier: Llama-3.3-70B through huggingface_hub, cached, retried and guarded.

`tier` (the `TierDecider` that `runtime.assemble` puts first in the chain) sits on pure parts —
`prompt` (the facts and messages), `answer` (validation), `cache` (keys, TTL cache, single-flight),
`retry` (tenacity strategies) — on `scoring.breaker` (the circuit breaker it shares with the
transformer tier), and on `client`, the only module that imports `huggingface_hub`. Of scoring it uses
only the shared vocabulary (`scoring.tiers`, `scoring.pressure`, `scoring.regimes`), never the chain
(`scoring.decide`) or another tier: an import contract holds it. Nothing is re-exported here, so
importing one part does not load the HTTP client.
"""
