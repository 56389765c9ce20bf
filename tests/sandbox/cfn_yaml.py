"""Reading infra/*.yaml (sandbox and tests/infra): a YAML loader for CloudFormation's short-form
intrinsics (`!Sub`, `!Ref`, `!GetAtt`, ...), kept as their long form (`{"Fn::Sub": ...}`) so the
IAM renderer and the Lambda emulation resolve them against the sandbox's names."""
import yaml


class CfnLoader(yaml.SafeLoader):
    """YAML loader that keeps CloudFormation short-form intrinsics as their long form."""


def _intrinsic(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    if suffix == "Condition":
        return {"Condition": value}
    return {f"Fn::{suffix}": value}


CfnLoader.add_multi_constructor("!", _intrinsic)


def load(path):
    """The template at `path` as plain data."""
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=CfnLoader)
