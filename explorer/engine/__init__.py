"""Jobs on Dask distributed: the client, submit/status/stop, the records on the scheduler, the worker side.

It runs the function it is given and knows nothing of ResNets."""
