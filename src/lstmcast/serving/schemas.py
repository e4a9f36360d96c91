"""Request and response bodies of the HTTP API (pydantic models: they are the OpenAPI schema).

A request carries one or many series' recent history, column by column, oldest value first::

    {"series": [{"id": "store-1",
                 "time": ["2024-01-01T00:00:00", "2024-01-01T01:00:00", ...],
                 "history": {"load": [12.1, 11.8, ...], "temperature": [3.2, 3.0, ...]},
                 "future": {"holiday": [0, 0, 1]}}]}

Numbers must be finite JSON numbers (no strings, booleans, nulls or NaN); unknown keys are
refused, so a misspelt field is an error rather than silently ignored.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SeriesIn(BaseModel):
    """One series: its recent history (at least input_length rows) and, when the model uses
    known-future covariates, their values for the horizon."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    id: str | None = Field(
        default=None, max_length=200,
        description="Series name; required by many-series models (a name unseen in training is scaled "
                    "by its own history).")
    time: list[str] | list[int] | None = Field(
        default=None,
        description="Timestamps of the history rows (ISO 8601 strings, or integer steps), oldest first. "
                    "Required when the model uses calendar features; otherwise optional and used to date "
                    "the forecast.")
    history: dict[str, list[float]] = Field(
        description="Column name -> values, oldest first; the model's targets and covariates, each with the "
                    "same number of rows (the last input_length rows are read).")
    future: dict[str, list[float]] | None = Field(
        default=None,
        description="Known-future covariate name -> its horizon values (exactly horizon values each).")


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    series: list[SeriesIn] = Field(min_length=1, description="The series to forecast, one forecast each.")


class SeriesForecast(BaseModel):
    id: str | None = Field(description="The series name given in the request.")
    time: list[str] | list[int] | None = Field(
        description="Timestamps of the forecast steps (ISO 8601 or integer steps); null when the request "
                    "gave no times and the model was trained on dated data.")
    step: list[int] = Field(description="1..horizon")
    mean: dict[str, list[float]] = Field(description="Target -> forecast per step (original units).")
    quantiles: dict[str, dict[str, list[float]]] | None = Field(
        default=None, description="'q<level>' -> target -> values per step (probabilistic models).")
    warnings: list[str] = Field(
        default_factory=list,
        description="Problems the forecast may have, e.g. a history far outside the range the model was "
                    "trained on (the forecast then extrapolates); empty when none.")


class PredictResponse(BaseModel):
    backend: str = Field(description="What computed the forecast: onnxruntime or torch.")
    horizon: int
    targets: list[str]
    quantile_levels: list[float]
    forecasts: list[SeriesForecast]


class ErrorItem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ErrorResponse(BaseModel):
    message: str = Field(description="The first problem, with the field it concerns, in one line.")
    detail: list[ErrorItem] | str
