"""The pure core: fold state, the fold, health, the status document. No I/O."""
