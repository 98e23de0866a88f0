enum HyphaeClientPlaceholder {}
