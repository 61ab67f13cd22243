"""``underseal compare``: the same simulated week through a conventional ALPR and through underseal.

``traffic`` simulates the city as text, ``conventional`` and ``minimized``
store it as each design does (SQLite files, measured), ``adversaries``
counts what each adversary can read, ``run`` ties them together and
``report`` writes the Markdown and the charts.
"""
