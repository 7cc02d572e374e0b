module oauth2cc.example/gettoken

go 1.19
