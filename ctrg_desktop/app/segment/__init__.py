"""Segment Anything masks in the window: tools, the segmenter worker process, the Masks dock."""
