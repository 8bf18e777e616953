"""The imperative shell: what talks to the API server and wires the program.

`kube` (the only module that imports the kubernetes client, with `listing` decoding its lists), `cache`
(the informer-fed scheduler cache with assumptions), `queue` (active, backoff and unschedulable pods),
`writer` (bindings, annotations, conditions, events), `leader` (the Lease), `loop` (pop, decide, bind),
`assemble` (the decision chain from the config), `app` (the composition root of `scheduler.py run`),
`preflight` (`scheduler.py check`, with `permissions` the API calls it verifies) and `demo` (the
scheduler against the embedded emulated cluster, the one module here that imports `sim`).
"""
