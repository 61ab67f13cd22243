"""Executable proofs of the guarantees in DESIGN §8 (see proofs/CLAIMS.md)."""
