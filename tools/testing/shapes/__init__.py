"""The pack's own tiny trained video model ("shapes"): synthetic clips, training, consistency metrics.

Nothing here imports ComfyUI at module level. See ``models/shapes_wan21/README.md`` for the model card.
"""
