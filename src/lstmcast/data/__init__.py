"""Reading, checking, splitting, scaling and windowing series. Pure numpy/pandas: no torch here."""
