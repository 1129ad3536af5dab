"""cspark_impex: Coherent Spark's ImpEx API with the official Python SDK's
names, on the cspark-impex C++ engine.

    import cspark_impex as cspark
    spark = cspark.Client(base_url='https://excel.uat.us.coherent.global/acme', api_key='...')
    files = spark.impex.exp(services=['my-folder/my-service'])
    result = spark.impex.imp(destination='my-folder/my-service', file=files[0].path)

AsyncClient offers the same verbs as coroutines.
"""

from ._client import AsyncClient, AsyncImpEx, Client, ImpEx, get_logger, shutdown
from ._errors import (BadRequestError, ConflictError, ForbiddenError, GatewayTimeoutError, InternalServerError,
                      NotFoundError, OutcomeUnknownError, PollTimeoutError, RateLimitError, RetryTimeoutError,
                      ServiceUnavailableError, SparkApiError, SparkError, SparkSdkError, UnauthorizedError,
                      UnknownApiError, UnprocessableEntityError, UnsupportedMediaTypeError)
from ._fleet import migrate_fleet, migrate_fleet_async
from ._progress import tqdm_progress
from ._results import ExportedFile, HttpResponse, ImportResult, MigrationResult

__title__ = 'cspark-impex'
__version__ = '0.1.0'

__all__ = [
    'Client', 'AsyncClient', 'ImpEx', 'AsyncImpEx', 'get_logger', 'shutdown', 'migrate_fleet', 'migrate_fleet_async', 'tqdm_progress',
    'SparkError', 'SparkSdkError', 'RetryTimeoutError', 'SparkApiError', 'BadRequestError', 'UnauthorizedError',
    'ForbiddenError', 'NotFoundError', 'ConflictError', 'UnsupportedMediaTypeError', 'UnprocessableEntityError',
    'RateLimitError', 'InternalServerError', 'ServiceUnavailableError', 'GatewayTimeoutError', 'UnknownApiError',
    'OutcomeUnknownError', 'PollTimeoutError',
    'ExportedFile', 'HttpResponse', 'ImportResult', 'MigrationResult',
]
