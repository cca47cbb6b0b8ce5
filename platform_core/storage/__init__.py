"""Where data lives: the domains' compute databases and the lake of published ports."""
