"""amt-conductor: declarative SageMaker Automatic Model Tuning studies, deployed with AWS CDK."""
