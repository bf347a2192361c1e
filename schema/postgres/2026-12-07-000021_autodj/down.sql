DROP TABLE stream_autodj;
