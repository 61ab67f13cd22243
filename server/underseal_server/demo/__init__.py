"""``underseal demo``: the whole system on loopback, narrated, in one command.

The demo plays every role but the camera's and the services': it starts the
records server and three custodians as separate processes with the operator
CLI (``underseal-server``), drives the camera only through its own CLI
(``underseal-device``, a subprocess: the server package never imports the
camera's), and acts as administrator, hotlist officer and approver,
dispatcher, investigator, court and auditor over HTTP.
"""
