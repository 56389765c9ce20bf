"""What the sandbox simulates behind its router (router.py), one module or package per AWS service:

- ``codedeploy/``: the CodeDeploy simulator (``api``: the API surface; ``lifecycle``: the deployment
  engine that runs hooks, shifts traffic and rolls back; ``common``: its records and switches).
- ``ecs/``: the Amazon ECS simulator in the same three parts (service deployments, lifecycle hooks).
- ``alb``: the Application Load Balancer's data plane (weighted forwarding) over moto's ELBv2.
- ``cloudwatch``: metric math and publication delay over moto's CloudWatch.
- ``iam``: the enforcement of the template's IAM policies on every call.
- ``lambda_emul``: Lambda's own behaviour around cargo-lambda (async retries, destinations,
  event source mappings, the runtime API's deadline).
- ``stepfunctions``: patches to moto's Step Functions in the moto process (moto_server.py), where
  its interpreter deviates from AWS (StopExecution during a task-token wait).

Every behaviour cites its source in the module's ``SOURCES`` list (README.md "Sources").
"""
