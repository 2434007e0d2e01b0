"""labs: the package every notebook of the event-driven design workbook imports."""
