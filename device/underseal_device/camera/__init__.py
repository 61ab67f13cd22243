"""The camera pipeline: capture → read → track and vote → match → seal → outbox → uplink.

Everything here runs on the camera and imports the core only. A read that is
not a hotlist hit is dropped as soon as the match says so: it is never
logged, written or counted per plate. Only sealed hits and aggregate
counters leave the camera. ``docs/camera.md`` describes the modules.
"""
