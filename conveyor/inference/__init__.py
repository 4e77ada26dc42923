"""Inference shapes: the record of each answered request (the Table) and the capture lines of
its rows (the capture bucket); serving writes them, monitoring reads them."""
