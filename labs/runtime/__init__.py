"""A local stand-in for AWS Lambda and its event sources (moto cannot run Lambda code)."""
from labs.sandbox.clock import clock
from labs.runtime.context import LambdaContext
from labs.runtime.invoke import Invocation, invoke
from labs.runtime.runtime import LocalRuntime

__all__ = ["LocalRuntime", "LambdaContext", "Invocation", "invoke", "clock"]
