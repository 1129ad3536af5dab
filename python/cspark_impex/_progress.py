"""Ready-made progress callbacks."""

from typing import Any, Callable, Dict, Tuple

from ._client import get_logger

__all__ = ['tqdm_progress']


def tqdm_progress(**options: Any) -> Callable[[Dict[str, Any]], None]:
    """A `progress=` callable: one tqdm bar of bytes per transfer where tqdm
    is installed (`options` go to each bar), and a line on the package's
    logger for each job step (created, status, retry, finished, failed)."""
    try:
        from tqdm import tqdm as bar_type  # type: ignore
    except ImportError:  # pragma: no cover - depends on the machine
        bar_type = None
    bars: Dict[Tuple[Any, str], Any] = {}
    log = get_logger()

    def on(event: Dict[str, Any]) -> None:
        key = (event.get('entry'), event.get('job_kind', ''))
        if event['what'] == 'bytes':
            if bar_type is None:
                return
            bar = bars.get(key)
            if bar is None:
                total = event.get('total') or None
                bar = bars[key] = bar_type(total=total, unit='B', unit_scale=True, desc=key[1] or 'transfer', **options)
            bar.update(event['bytes'] - bar.n)
            return
        if event['what'] in ('finished', 'failed') and key in bars:
            bars.pop(key).close()
        text = ' '.join(x for x in (event.get('job_kind'), event.get('job_id'), event['what'], event.get('status'),
                                    event.get('message')) if x)
        log.info(text)

    return on
