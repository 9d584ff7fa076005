import SigV4
