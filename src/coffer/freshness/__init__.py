"""Freshness: noticing when storage shows an older state than the owner has already seen.

One job per module. The witness (a record the storage provider does not control, kept by a key
vault) is ``witness_proto`` (sans-I/O messages and signatures, shared by client and vault) and
``witness_client`` (HTTP); their errors are in ``errors``.
"""
