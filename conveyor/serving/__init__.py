"""The model server: /predict, the SageMaker inference contract, health; inference records."""
