"""The FMT remuneration estimate: the grid as data, the pure computation, the shipped grid."""
