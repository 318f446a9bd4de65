"""The engine: pure geometry over the column arrays of one snapshot (separation,
airspace, geodesy). No I/O, no clock, no state between calls."""
