"""What a refresh shows people: the terminal summary and the HTML report."""
