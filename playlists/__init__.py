"""Pure scheduling domain: wire documents, signing, the timeline compiler."""
