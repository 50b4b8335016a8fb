"""FlowMachine: privacy-preserving analyses of CDR data in FlowDB, as query objects.

A query object describes an analysis (its parameters and the queries it builds on); it becomes SQL, is computed
once into a shared cache table in FlowDB, and is read back from there. Everything that touches FlowDB or Redis
takes an explicit `Context` (`flowmachine.core.context`).
"""

__version__ = "0.1.0"
