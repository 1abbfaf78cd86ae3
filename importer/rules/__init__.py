"""Rules on cell values that more than one room needs: phone numbers, contact fields."""
