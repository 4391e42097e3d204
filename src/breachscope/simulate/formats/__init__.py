"""Writers of the evidence formats: columns in, lines out (vectorized; a line ends with a newline).

Noise generators and the attack/episode code use the same functions, so an attack record cannot
differ in layout from the ordinary records around it.
"""
