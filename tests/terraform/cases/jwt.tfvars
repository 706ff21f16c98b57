authorization_type = "JWT"
jwt_issuer         = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123"
jwt_audience       = ["4a1b2c3d4e5f6g7h8i9j0k1l2m", "reminders-cli"]
jwt_scopes         = { read = ["tasks/read", "tasks/admin"], write = ["tasks/write", "tasks/admin"] }
