"""Policy backbones behind one interface: media encoded once, G samples per prompt, completion log-probs."""
