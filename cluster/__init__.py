"""The pure model of a cluster: objects, parsing, resources, needs, labels, the NodeState contract, the snapshot.

Also the pieces every layer shares: the config schema (`config`, `config_reference`), the injected
clock (`clock`), user-facing errors (`errors`) and the bounded loader of user files (`userfiles`,
`manifests`). Nothing here does network I/O or imports another package of the project.
"""
