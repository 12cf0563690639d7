"""Documents for people: the ticket PDF, the trip's calendar entry, email bodies and the wording
they share with the pages. Presentation only: it reads the domain, it never changes it, and it
knows nothing of the web, the realtime hub or the task queue."""
