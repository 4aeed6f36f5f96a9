"""The engine that draws synthetic scenes fast: thousands of 64 x 64 scenes per second on one CPU core.

A learner does not need to read it: what a scene holds is in :mod:`segedu.data.tracks`,
:mod:`segedu.data.sampling` and :mod:`segedu.data.shapes`. Here: :mod:`~segedu.data.engine.render`
(scenes drawn on 8 x 8 tiles, each object only where it can reach), :mod:`~segedu.data.engine.tiles`
(the tile layout and fixed tables: noise bank, background blotches, band patterns) and
:mod:`~segedu.data.engine.chunks` (scenes rendered in chunks, kept in a bounded cache).
"""
