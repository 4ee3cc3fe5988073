"""What an operator runs around a deploy (tools/deploy/cli.py wires them to make targets):

- preflight: `make preflight`, what the account must allow (CloudWatch role, concurrency, names
  taken, name lengths), checked before anything changes; `make deploy` and `make plan` run it;
- changes: `make plan`, a change set shown as a table and deleted, and the replacement gate
  that `make deploy` runs first;
- drift: the live stack's parameter values against params/<stage>.json (ADOPT, FORCE);
- events: stack events printed while CloudFormation works, and the first failure's reason;
- teardown: `make destroy`, what it retains, and PURGE;
- logs: `make logs`, a function's log group tailed;
- taskcat: .taskcat.yml from params/.
"""
