import sys

from audit_pipeline.cluster.demo import main

sys.exit(main())
