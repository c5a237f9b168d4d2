"""Script mode, and the container controls a spec may not set by hand.

Script mode: the framework containers (built on aws/sagemaker-training-toolkit) download the code archive
named by the `sagemaker_submit_directory` hyperparameter and run `sagemaker_program` from it. The SageMaker
Python SDK v2 sends these as JSON-encoded strings (`Framework.hyperparameters()` applies `json.dumps` to
each value; `_script_mode_hyperparam_update` in sagemaker/estimator.py, v2.257), and so does amt:
`algorithm.entry_point` and `algorithm.source` are the only way a spec chooses the code that runs.

Controls: the same hyperparameters, and environment variables that decide which code runs or which
endpoint code and credentials come from, would let a spec that names a reviewed built-in image run code
of its choosing (issue 9, finding 2: `sagemaker_program` + `sagemaker_submit_directory` pointing into a
data channel makes the XGBoost container run a script from the data). They are refused, by name.
"""

from __future__ import annotations

import json

# Built-ins whose containers run a user script (sagemaker-training-toolkit based).
SCRIPT_MODE_BUILTINS = frozenset({"pytorch", "tensorflow", "huggingface", "sklearn", "mxnet", "xgboost"})

PROGRAM = "sagemaker_program"
SUBMIT_DIRECTORY = "sagemaker_submit_directory"
REGION = "sagemaker_region"
LOG_LEVEL = "sagemaker_container_log_level"
LOG_LEVEL_INFO = 20  # the SDK's default container_log_level, logging.INFO
# With network isolation the container cannot reach S3: the SDK passes the archive as a `code` channel
# and points the toolkit at its local copy (EstimatorBase.CONTAINER_CODE_CHANNEL_SOURCEDIR_PATH).
CODE_CHANNEL = "code"
CODE_CHANNEL_ARCHIVE = "/opt/ml/input/data/code/sourcedir.tar.gz"

# Hyperparameters the training toolkit reads as its own controls (params.SAGEMAKER_PREFIX).
CONTROL_HYPERPARAMETER_PREFIX = "sagemaker_"

# Environment variables a spec may not set: (name or prefix ending in '*', why). Compared case-insensitively.
CONTROL_ENVIRONMENT: tuple[tuple[str, str], ...] = (
    ("SAGEMAKER_*", "the training toolkit reads SAGEMAKER_PROGRAM, SAGEMAKER_SUBMIT_DIRECTORY, "
                    "SAGEMAKER_TRAINING_MODULE and SAGEMAKER_BASE_DIR to choose the code it runs and where"),
    ("SM_*", "the training toolkit sets these for the training script (channels, model dir, hyperparameters)"),
    ("S3_ENDPOINT_URL", "the training toolkit downloads the code archive from this S3 endpoint"),
    ("CA_REPOSITORY_ARN", "the training toolkit installs requirements.txt from this package repository"),
    ("PIP_*", "redirects the packages pip installs (index, config file)"),
    ("PYTHONPATH", "adds directories Python imports code from"),
    ("PYTHONHOME", "replaces Python's standard library location"),
    ("PYTHONSTARTUP", "runs a file when Python starts"),
    ("PYTHONUSERBASE", "adds a site-packages directory Python imports code from"),
    ("PYTHONEXECUTABLE", "changes the interpreter Python reports and child processes use"),
    ("PYTHONWARNINGS", "imports the module named in a warning filter's category"),
    ("PYTHONBREAKPOINT", "imports and calls the function it names at breakpoint()"),
    ("LD_*", "the dynamic loader preloads or searches libraries from it (LD_PRELOAD, LD_LIBRARY_PATH, LD_AUDIT)"),
    ("PATH", "decides which executables run"),
    ("HOME", "moves the configuration files pip, the AWS SDK and shells read (e.g. ~/.aws/config, which "
             "can name a credential_process command)"),
    ("XDG_CONFIG_HOME", "moves the configuration files pip and other tools read"),
    ("BASH_ENV", "bash runs this file before a script"),
    ("ENV", "sh runs this file when it starts"),
    ("BASH_FUNC_*", "defines shell functions in every bash the container starts"),
    ("PROMPT_COMMAND", "bash runs it"),
    ("AWS_*", "the AWS SDKs' endpoints, credentials, configuration files and CA bundle come from SageMaker, "
              "not from a spec (e.g. AWS_ENDPOINT_URL_S3, AWS_CONFIG_FILE, AWS_CONTAINER_CREDENTIALS_FULL_URI)"),
    ("HTTP_PROXY", "sends HTTP traffic (code and package downloads) through another host"),
    ("HTTPS_PROXY", "sends HTTPS traffic (code and package downloads) through another host"),
    ("ALL_PROXY", "sends traffic through another host"),
    ("NO_PROXY", "changes which hosts the proxy settings apply to"),
    ("REQUESTS_CA_BUNDLE", "replaces the certificates that authenticate download endpoints"),
    ("SSL_CERT_FILE", "replaces the certificates that authenticate download endpoints"),
    ("SSL_CERT_DIR", "replaces the certificates that authenticate download endpoints"),
    ("CURL_CA_BUNDLE", "replaces the certificates that authenticate download endpoints"),
    ("HF_ENDPOINT", "redirects the Hugging Face Hub that models and their code are downloaded from"),
    ("NODE_OPTIONS", "adds code Node.js loads at start (--require)"),
    ("JAVA_TOOL_OPTIONS", "adds agents the JVM loads at start"),
    ("_JAVA_OPTIONS", "adds agents the JVM loads at start"),
    ("JDK_JAVA_OPTIONS", "adds agents the JVM loads at start"),
    ("PERL5OPT", "adds modules Perl loads at start"),
    ("PERL5LIB", "adds directories Perl loads modules from"),
    ("RUBYOPT", "adds libraries Ruby loads at start"),
)


def control_environment_reason(name: str) -> str | None:
    """Why the environment variable `name` may not be set by a spec, or None when it may."""
    upper = name.upper()
    for pattern, reason in CONTROL_ENVIRONMENT:
        if upper == pattern or (pattern.endswith("*") and upper.startswith(pattern[:-1])):
            return reason
    return None


def is_control_hyperparameter(name: str) -> bool:
    """True for the names the SageMaker containers read as their own controls (`sagemaker_*`)."""
    return name.lower().startswith(CONTROL_HYPERPARAMETER_PREFIX)


def script_hyperparameters(entry_point: str, source: str, region: str, *, isolated: bool) -> dict[str, str]:
    """The static hyperparameters the SageMaker Python SDK v2 sends for script mode, JSON-encoded as it does."""
    return {
        SUBMIT_DIRECTORY: json.dumps(CODE_CHANNEL_ARCHIVE if isolated else source),
        PROGRAM: json.dumps(entry_point),
        LOG_LEVEL: json.dumps(LOG_LEVEL_INFO),
        REGION: json.dumps(region),
    }
